/**
 * The S3 server of the tests and the bench, as its own process: s3rver on a loopback port over
 * the directory given, with the bucket given. Prints `{"port":N}` once serving; ends when its
 * standard input closes (so it never outlives the process that started it).
 *
 * Run under `node --openssl-legacy-provider`: s3rver makes its LIST continuation tokens with DES,
 * which OpenSSL 3 keeps in its legacy provider (without it, a LIST past 1000 keys fails with 500).
 */
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
