// @ts-check
/**
 * HelloCode's client for browsers and Node >= 20: one ES module, no dependencies, no build step.
 *
 * ```js
 * import { Client } from './hellocode.js';
 * const client = await Client.connect({ url: 'ws://127.0.0.1:8080/ws', credentials: { login: { username, password } } });
 * client.addListener((event) => console.log(event));
 * await client.send(chatId, 'hello');
 * ```
 *
 * See README.md for the events, what is resent, and persistence.
 */

export { Client, MAX_MESSAGE_CHARS, MAX_CLIENT_ID_BYTES } from './src/client.js';
export { HelloCodeError } from './src/errors.js';
export { memoryStorage, webStorage } from './src/persist.js';
export { PROTOCOL_VERSION } from './src/config.js';
