import { s3Cases } from './bench/s3.js';
for (const r of await s3Cases(process.cwd(), 2)) console.log(r.case, r.ratio?.toFixed(2), JSON.stringify(r.ours), r.baselineMs);
