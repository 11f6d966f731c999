// The CLI from source, for scripts run with tsx (bin/neurotap.js runs the compiled dist/).
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
