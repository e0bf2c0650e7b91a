"""The Jupyter server extension: the hub served by Jupyter, behind Jupyter's authentication.

:mod:`.app` holds :class:`~jupyter_sio.jupyter.app.JupyterSioApp` (configuration, routes,
kernel discovery through the environment); :mod:`.handlers` holds the Tornado handlers that
put Jupyter's identity, Authorizer, XSRF, Host and Origin checks in front of the Engine.IO
endpoints. Only the Jupyter server imports this package; kernels never need it.
"""
