/** The CLI from source, for child processes of the tests (bin/ runs the build in dist/). */
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
