/** References run in float32 (to mirror the fast kernels) or float64 (for gradient checks). */
export type FloatArray = Float32Array | Float64Array;
