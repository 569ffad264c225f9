// Where the golden fixtures are: $FEDDIP_FIXTURES, else ../shared/fixtures/torch from the repo root.
import { resolve } from 'node:path';

export const FIXTURES_DIR = resolve(process.env.FEDDIP_FIXTURES ?? resolve(import.meta.dirname, '../../../shared/fixtures/torch'));
