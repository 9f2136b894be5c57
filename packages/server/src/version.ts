// The version an operator sees (`parley --version`, `parley status`, XEP-0092 could use it too): the server
// package's own, read once from its package.json so there is one place to bump it.
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
