import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Packs files into an AES-256 7-Zip archive with encrypted headers, as the
 * decision-support team delivers them. The password goes to 7z on stdin
 * (`-p` without a value makes 7z ask for it), never on the command line.
 */
export async function packEncrypted(
  archive: string,
  files: { name: string; content: string }[],
  password: string,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'utskick-pack-'));
  try {
    for (const f of files) await writeFile(join(dir, f.name), f.content);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        '7z',
        ['a', '-t7z', '-bd', '-bsp0', '-mhe=on', '-p', archive, ...files.map((f) => f.name)],
        {
          cwd: dir,
          stdio: ['pipe', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.on('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'ENOENT' ? new Error('7z is not installed (apt-get install p7zip-full)') : err),
      );
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`7z a failed (${code}): ${stderr.trim()}`)),
      );
      child.stdin.end(`${password}\n`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
