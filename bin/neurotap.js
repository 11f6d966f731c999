#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm run build`, or by npm's `prepare` on install).
import { main } from '../dist/cli/main.js';

// An exit code rather than process.exit(): stdout may still be flushing to a pipe.
process.exitCode = await main(process.argv.slice(2));
