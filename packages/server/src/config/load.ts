// Loads parley.yml, merges command-line overrides over it, and validates the result. Every error names the source
// (the file, or the command line) and the dotted key, so a bad config fails at start with one readable line per problem.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { core } from 'zod';
import { configKeys, configSchema, type Config, type DeepPartial } from './schema';

export class ConfigError extends Error {
  override name = 'ConfigError';

  /** One line per problem; `message` joins them. */
  readonly problems: string[];

  constructor(problems: string | string[], readonly file?: string) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('\n'));
    this.problems = list;
  }
}

export interface LoadConfigOptions {
  /** Path of the YAML file; when absent only the defaults and overrides apply. */
  file?: string;
  /** Values from command-line flags, merged over the file. */
  overrides?: DeepPartial<Config>;
}

const COMMAND_LINE = 'command line';

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const fromFile = opts.file === undefined ? {} : readConfigFile(opts.file);
  const merged = mergeDeep(fromFile, opts.overrides ?? {});
  const result = configSchema.safeParse(merged, { reportInput: true, error: describeIssue });
  if (result.success) return result.data;

  const sourceOf = (path: PropertyKey[]) =>
    opts.overrides !== undefined && hasPath(opts.overrides, path) ? COMMAND_LINE : (opts.file ?? 'defaults');
  const problems: string[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        problems.push(`unknown key '${dotted(path)}' in ${sourceOf(path)}${suggest(issue.path, key)}`);
      }
      continue;
    }
    // Shared secrets (components.list[].secret) are never echoed, not even a mistyped one.
    const got = issue.input === undefined || issue.path.at(-1) === 'secret' ? '' : `, got ${show(issue.input)}`;
    const where = issue.path.length === 0 ? '' : `${dotted(issue.path)}: `;
    problems.push(`${sourceOf(issue.path)}: ${where}${issue.message}${got}`);
  }
  throw new ConfigError(problems, opts.file);
}

/** Reads and parses the YAML file into a plain object; the schema checks the rest. */
function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'configuration file not found'
        : code === 'EACCES'
          ? 'configuration file not readable (permission denied)'
          : code === 'EISDIR'
            ? 'expected a configuration file, found a directory'
            : `cannot read configuration file (${(err as Error).message})`;
    throw new ConfigError(`${file}: ${reason}`, file);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return `${file}: line ${line}, column ${col}: invalid YAML: ${e.message}`;
      }),
      file,
    );
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {}; // empty or comments only: all defaults
  if (!isPlainObject(value)) throw new ConfigError(`${file}: expected a mapping of keys at the top level, got ${show(value)}`, file);
  // A group whose keys are all commented out (`tls:` alone) reads as null: treat it as absent, i.e. all defaults.
  const groups = new Set(configKeys().map((k) => k.path.split('.')).filter((p) => p.length > 1).map((p) => p[0]!));
  for (const [key, v] of Object.entries(value)) if (v === null && groups.has(key)) delete value[key];
  return value;
}

/** Zod issue → message; the caller appends what was found. */
function describeIssue(issue: core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'required' : `expected ${article(issue.expected)}`;
    case 'invalid_value':
      return issue.values.length === 1 ? `expected ${show(issue.values[0])}` : `expected one of ${issue.values.map(show).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'string' && issue.minimum === 1) return 'must not be empty';
      return undefined;
    default:
      return undefined;
  }
}

function article(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'true or false',
    object: 'a mapping',
    record: 'a mapping',
    array: 'a list',
  };
  return names[expected] ?? expected;
}

function show(value: unknown): string {
  if (value === null) return 'null (empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function dotted(path: PropertyKey[]): string {
  return path.map(String).join('.');
}

/** " (did you mean 'port'?)" for a key one or two edits from a known sibling. */
function suggest(parent: PropertyKey[], key: string): string {
  const prefix = parent.length === 0 ? '' : `${dotted(parent)}.`;
  const siblings = new Set(
    configKeys()
      .filter((k) => k.path.startsWith(prefix))
      .map((k) => k.path.slice(prefix.length).split('.')[0]!),
  );
  let best: string | undefined;
  let bestDistance = 3;
  for (const s of siblings) {
    const d = editDistance(key.toLowerCase(), s);
    if (d < bestDistance) [best, bestDistance] = [s, d];
  }
  return best === undefined ? '' : ` (did you mean '${best}'?)`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Overrides win; mappings merge key by key; lists and scalars replace; undefined in overrides is ignored. */
export function mergeDeep(base: Record<string, unknown>, over: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(value) && isPlainObject(current) ? mergeDeep(current, value) : value;
  }
  return out;
}

function hasPath(obj: object, path: PropertyKey[]): boolean {
  if (path.length === 0) return false;
  let cur: unknown = obj;
  for (const key of path) {
    if (!isPlainObject(cur)) return true; // the override replaced everything below this point
    cur = cur[String(key)];
    if (cur === undefined) return false;
  }
  return true;
}
