import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** House rules for src/dispatch that a reviewer should not have to count by hand. */

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'dispatch');
const sources = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }));

const MAX_FUNCTION_LINES = 80;

function longFunctions(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.end).line;
      if (last - first + 1 > MAX_FUNCTION_LINES)
        found.push(`${file}:${first + 1} (${last - first + 1} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe('src/dispatch', () => {
  it(`has no function longer than ${MAX_FUNCTION_LINES} lines`, () => {
    expect(sources.flatMap(({ file, text }) => longFunctions(file, text))).toEqual([]);
  });

  it('decides nothing on a delivery error code: whether a call may have landed is the client’s flag', () => {
    const codeTests =
      /\.code\s*[!=]==|Codes?\.has\(|'(TIMEOUT|ECONNRESET|UND_ERR_SOCKET|EPIPE|UND_ERR_CLOSED|HTTP_5\d\d)'/;
    expect(sources.filter(({ text }) => codeTests.test(text)).map((s) => s.file)).toEqual([]);
  });
});
