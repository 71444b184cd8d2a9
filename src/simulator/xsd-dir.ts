import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The two published schema files of AddMessage 2, as named in the contract folder. */
export const XSD_FILES = {
  responder: 'AddMessageResponder_2.0.xsd',
  core: 'mvk_crm_casemanagement_inbox_2.0.xsd',
} as const;

/** The published contract folder, relative to the package root (a sibling checkout: ../shared). */
export const DEFAULT_XSD_DIR = '../shared/contracts/mvk-inbox-2';

/** The first folder at or above `from` that holds a package.json (src/ under tsx, dist/src compiled). */
function packageRoot(from: string): string | undefined {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

const isDir = (path: string) => existsSync(path) && statSync(path).isDirectory();

/**
 * The folder holding the published AddMessage XSDs: `INBOX_XSD_DIR` when set
 * (it must exist and hold both files, else this throws an Error naming
 * INBOX_XSD_DIR and what is missing), otherwise `../shared/contracts/mvk-inbox-2`
 * beside the package root when that exists, otherwise undefined.
 */
export function resolveXsdDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const configured = env.INBOX_XSD_DIR?.trim();
  if (configured) {
    const dir = resolve(configured);
    if (!isDir(dir)) throw new Error(`INBOX_XSD_DIR=${configured}: no such folder (${dir})`);
    for (const file of Object.values(XSD_FILES)) {
      if (!existsSync(join(dir, file)))
        throw new Error(`INBOX_XSD_DIR=${configured}: ${file} is missing in ${dir}`);
    }
    return dir;
  }
  const root = packageRoot(dirname(fileURLToPath(import.meta.url)));
  if (!root) return undefined;
  const dir = resolve(root, DEFAULT_XSD_DIR);
  return isDir(dir) ? dir : undefined;
}
