/** What `capture()` takes besides the selection and edits: early stop, stacking, dtypes. */
import type { EditOptions } from './edits.js';
import type { SelectOptions } from './select.js';

export interface CaptureOptions extends SelectOptions, EditOptions {
  /**
   * Early stop: run only what the requested layers need (like baukit's `stop=True`); the model's own
   * outputs are then not computed and `acts.outputs` is empty.
   */
  stop?: boolean;
  /** Keep the calls of a module inside a Loop/Scan body as one tensor, calls along a new leading axis. */
  stackCalls?: boolean;
  /** Return float16 and bfloat16 values (an fp16 model's) as float32; by default they stay as the graph computes them. */
  float32?: boolean;
  /**
   * 'float16': float32 activations come back as float16 (a Cast in the capture graph): half the
   * bytes, rounded to float16's 11-bit precision (lossy; large values overflow to ±Inf). Keys,
   * other dtypes and the model's own outputs are unchanged.
   */
  dtype?: 'float32' | 'float16';
}
