/**
 * The few functions of ONNX Runtime's C API that a zero-copy run needs, called through koffi on the
 * `libonnxruntime` that onnxruntime-node ships (the same library its binding has loaded).
 * OrtApi is a table of function pointers whose order ONNX Runtime only ever appends to, so the
 * indices below hold for every release since the API version asked for.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import koffi from 'koffi';

const API_VERSION = 16;

/** Position of each function in the OrtApi table (onnxruntime_c_api.h). */
const INDEX = {
  GetErrorMessage: 2,
  CreateEnv: 3,
  CreateSessionFromArray: 8,
  Run: 9,
  CreateSessionOptions: 10,
  SetSessionLogSeverityLevel: 22,
  SetSessionGraphOptimizationLevel: 23,
  SetIntraOpNumThreads: 24,
  SetInterOpNumThreads: 25,
  CreateTensorWithDataAsOrtValue: 49,
  GetTensorMutableData: 51,
  GetTensorElementType: 60,
  GetDimensionsCount: 61,
  GetDimensions: 62,
  GetTensorTypeAndShape: 65,
  CreateCpuMemoryInfo: 69,
  ReleaseEnv: 92,
  ReleaseStatus: 93,
  ReleaseSession: 95,
  ReleaseValue: 96,
  ReleaseTensorTypeAndShapeInfo: 99,
  ReleaseSessionOptions: 100,
  AddSessionConfigEntry: 130,
} as const;

const SIGNATURES: Record<keyof typeof INDEX, string> = {
  GetErrorMessage: 'const char *f(void *status)',
  CreateEnv: 'void *f(int level, const char *id, _Out_ void **env)',
  CreateSessionFromArray: 'void *f(void *env, const void *data, size_t size, void *options, _Out_ void **session)',
  Run: 'void *f(void *session, void *runOptions, const char **inNames, void **inputs, size_t nIn, const char **outNames, size_t nOut, void *outputs)',
  CreateSessionOptions: 'void *f(_Out_ void **options)',
  SetSessionLogSeverityLevel: 'void *f(void *options, int level)',
  SetSessionGraphOptimizationLevel: 'void *f(void *options, int level)',
  SetIntraOpNumThreads: 'void *f(void *options, int n)',
  SetInterOpNumThreads: 'void *f(void *options, int n)',
  CreateTensorWithDataAsOrtValue:
    'void *f(void *info, void *data, size_t size, const int64_t *shape, size_t rank, int type, _Out_ void **value)',
  GetTensorMutableData: 'void *f(void *value, _Out_ void **data)',
  GetTensorElementType: 'void *f(void *info, _Out_ int *type)',
  GetDimensionsCount: 'void *f(void *info, _Out_ size_t *rank)',
  GetDimensions: 'void *f(void *info, int64_t *dims, size_t rank)',
  GetTensorTypeAndShape: 'void *f(void *value, _Out_ void **info)',
  CreateCpuMemoryInfo: 'void *f(int allocator, int memType, _Out_ void **info)',
  ReleaseEnv: 'void f(void *p)',
  ReleaseStatus: 'void f(void *p)',
  ReleaseSession: 'void f(void *p)',
  ReleaseValue: 'void f(void *p)',
  ReleaseTensorTypeAndShapeInfo: 'void f(void *p)',
  ReleaseSessionOptions: 'void f(void *p)',
  AddSessionConfigEntry: 'void *f(void *options, const char *key, const char *value)',
};

// biome-ignore lint/suspicious/noExplicitAny: koffi's functions take and return C values.
type CFunction = ((...args: any[]) => any) & { async: (...args: any[]) => void };
export type OrtApi = Record<keyof typeof INDEX, CFunction>;

/** The onnxruntime shared library beside onnxruntime-node's binding. */
export function ortLibraryPath(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  const file = { linux: 'libonnxruntime.so.1', darwin: 'libonnxruntime.1.dylib', win32: 'onnxruntime.dll' }[
    process.platform as string
  ];
  if (!file) throw new Error(`no ONNX Runtime library name for ${process.platform}`);
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch, file);
}

let api: OrtApi | undefined;

/** Binds the OrtApi table once per process. */
export function ortApi(): OrtApi {
  if (api) return api;
  const lib = koffi.load(ortLibraryPath());
  const base = lib.func('void *OrtGetApiBase()')();
  const getApi = koffi.decode(koffi.decode(base, 'void *'), koffi.proto('void *GetApi(uint32_t version)'));
  const table = getApi(API_VERSION);
  if (!table) throw new Error(`ONNX Runtime does not offer C API version ${API_VERSION}`);
  const pointers = koffi.decode(table, koffi.array('void *', 131));
  const bound: Partial<OrtApi> = {};
  for (const [name, index] of Object.entries(INDEX) as [keyof typeof INDEX, number][]) {
    bound[name] = koffi.decode(pointers[index], koffi.proto(SIGNATURES[name].replace(/\bf\(/, `${name}(`)));
  }
  api = bound as OrtApi;
  return api;
}

/** Throws the message of a non-null OrtStatus (and frees it). */
export function check(status: unknown): void {
  if (!status) return;
  const a = ortApi();
  const message = a.GetErrorMessage(status) as string;
  a.ReleaseStatus(status);
  throw new Error(message);
}
