#!/usr/bin/env node
// Entry point of the `aperture-depth` command: loads the TypeScript CLI through tsx (a runtime dependency).
import { register } from 'tsx/esm/api';

register();
await import('../core/cli/main.ts');
