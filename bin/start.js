#!/usr/bin/env node
// `npm start`: the built server, never a build (npm install, or npm run build, makes dist/).
import { requireFreshDist } from './dist-check.js';

requireFreshDist();
await import('../dist/main.js');
