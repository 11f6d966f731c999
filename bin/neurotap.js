#!/usr/bin/env node
// The compiled CLI lives in dist/ (`npm run build` in a checkout; the published package ships it, built by prepack).
import { main } from '../dist/cli/main.js';

// An exit code rather than process.exit(): stdout may still be flushing to a pipe.
process.exitCode = await main(process.argv.slice(2));
