// What a connection needs from a transport ("channel"): the hub over socket.io-client, or the
// widget comm (comm.js). Both report through the same handler object.

/**
 * @typedef {object} ChannelHandlers
 * @property {(event: string, args: any[]) => void} event        a server event
 * @property {(transport: string, recovered?: boolean) => void} connect  (re)connected;
 *   `recovered`: the hub restored the session (connection-state recovery): same id, rooms
 *   kept, and what it missed is being replayed, so nothing needs subscribing again
 * @property {(reason: string) => void} disconnect
 * @property {(error: Error) => void} error                      a connect attempt failed
 * @property {(transport: string) => void} transport             transport changed (upgrade)
 */

/**
 * @typedef {object} Channel
 * @property {string} kind                                        "hub" | "comm"
 * @property {(event: string, args: any[]) => void} emit
 * @property {(event: string, args: any[], timeout: number) => Promise<any>} call
 *   resolves with the ack's first argument
 * @property {() => void} close
 */

export class TimeoutError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "TimeoutError";
  }
}

export {};
