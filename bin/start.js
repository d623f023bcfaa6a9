#!/usr/bin/env node
// `npm start`: the built server, never a build (npm install, or npm run build, makes dist/).
import { requireFreshDist } from './dist-check.js';

requireFreshDist();
// Under npm the server must stop with its parent: npm 11 exits on SIGTERM without passing it on. Only
// here: a server started any other way (nohup, a supervisor, a shell) outlives whoever started it.
process.argv.push('--stop-with-parent');
await import('../dist/main.js');
