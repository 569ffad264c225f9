// Emits .d.ts files for src/ into dist/types and points dist/feddip.d.ts at them.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json', '--emitDeclarationOnly'], { cwd: root, stdio: 'inherit' });
writeFileSync(join(root, 'dist', 'feddip.d.ts'), "export * from './types/index.js';\n");
