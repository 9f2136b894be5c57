// Modules are found by folder (STYLE.md: one folder per spec under modules/), so adding a feature never
// edits a central list; config `modules.disabled` names the ones to leave out.
import { readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ModuleDefinition } from './module-api';

const MODULES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'modules');

/** 'xep-0199-ping' → 'ping': a module is named after its folder, so a disabled one is never even imported. */
export function moduleNameOf(folder: string): string {
  return folder.replace(/^(rfc\d+|xep-\d+)-/, '');
}

export async function discoverModules(disabled: readonly string[] = [], dir = MODULES_DIR): Promise<ModuleDefinition<any>[]> {
  const out: ModuleDefinition<any>[] = [];
  for (const folder of readdirSync(dir).sort()) {
    const entry = join(dir, folder, 'index.ts');
    if (!existsSync(entry) || disabled.includes(moduleNameOf(folder))) continue;
    const mod = (await import(pathToFileURL(entry).href)) as { default?: ModuleDefinition<any> };
    if (!mod.default || typeof mod.default.setup !== 'function') throw new Error(`${entry} has no default module definition`);
    if (mod.default.name !== moduleNameOf(folder)) {
      throw new Error(`${entry}: module name '${mod.default.name}' should be '${moduleNameOf(folder)}' (its folder's name without the spec)`);
    }
    out.push(mod.default);
  }
  return out;
}
