// A compact reporter for `node --test`: one line per test file, the details of each
// failure, and a total. Used by `npm test` so the test command's output stays readable.
import { basename } from 'node:path';

/**
 * @param {AsyncIterable<{type: string, data: any}>} source the runner's events
 * @returns {AsyncGenerator<string>}
 */
export default async function* summary(source) {
  /** @type {Map<string, {pass: number, fail: number}>} */
  const files = new Map();
  /** @type {string[]} */
  const failures = [];
  /** @type {string[]} */
  const output = [];
  let total = 0;
  for await (const { type, data } of source) {
    if ((type === 'test:pass' || type === 'test:fail') && data.nesting === 0) {
      const file = data.file ? basename(data.file) : '(unknown file)';
      const counts = files.get(file) ?? { pass: 0, fail: 0 };
      files.set(file, counts);
      total += 1;
      if (type === 'test:pass') {
        counts.pass += data.skip ? 0 : 1;
      } else {
        counts.fail += 1;
        const error = data.details?.error;
        const cause = error?.cause ?? error;
        failures.push(`not ok ${file} > ${data.name}\n  ${String(cause?.stack ?? cause).replaceAll('\n', '\n  ')}`);
      }
    } else if (type === 'test:stderr' || type === 'test:stdout') {
      // What tests print is shown only when something failed, after the failures.
      if (data.message.trim()) output.push(data.message.trimEnd());
    }
  }
  for (const [file, { pass, fail }] of files) {
    yield `${fail ? 'FAIL' : 'ok  '} js/test/${file}: ${pass} passed${fail ? `, ${fail} failed` : ''}\n`;
  }
  const failed = [...files.values()].reduce((n, c) => n + c.fail, 0);
  for (const failure of failures) yield `${failure}\n`;
  if (failed) for (const line of output) yield `${line}\n`;
  yield `js: ${total - failed} passed, ${failed} failed in ${files.size} files\n`;
}
