#!/usr/bin/env node
import { requireFreshDist } from './dist-check.js';

requireFreshDist();
await import('../dist/cli/index.js');
