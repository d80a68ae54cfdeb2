import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDirectory } from './directories.js';

describe('ensureDirectory', () => {
  it('makes a directory and its missing parents, and leaves an existing one as it is', () => {
    const root = mkdtempSync(join(tmpdir(), 'relais-dirs-'));
    try {
      const deep = join(root, 'a', 'b', 'c');
      ensureDirectory(deep);
      expect(statSync(deep).isDirectory()).toBe(true);
      ensureDirectory(deep);
      ensureDirectory(root);
      expect(statSync(deep).isDirectory()).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('fails with the file system’s code where a directory cannot be made, never looping (under /proc, over a file)', () => {
    expect(() => ensureDirectory('/proc/relais-no-such-dir/x')).toThrow(expect.objectContaining({ code: expect.stringMatching(/^E/) }));
    expect(existsSync('/proc/relais-no-such-dir')).toBe(false);
    const root = mkdtempSync(join(tmpdir(), 'relais-dirs-'));
    try {
      writeFileSync(join(root, 'file'), 'x');
      expect(() => ensureDirectory(join(root, 'file', 'sub'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
      expect(() => ensureDirectory(join(root, 'file'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
