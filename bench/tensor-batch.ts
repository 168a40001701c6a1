/**
 * Batches for the tensor benchmarks (the protocol cells and the ONNX Runtime limit), tiled from a pool of
 * preprocessed images so that each batch starts at a different image.
 */

/**
 * `batch` images copied from `pool` (whole images of `floatsPerImage` floats each), starting at image `first`
 * and wrapping round the pool.
 */
export function tileImages(pool: Float32Array, floatsPerImage: number, batch: number, first: number): Float32Array {
  const images = pool.length / floatsPerImage;
  const out = new Float32Array(batch * floatsPerImage);
  for (let i = 0; i < batch; i++) {
    const image = (first + i) % images;
    out.set(pool.subarray(image * floatsPerImage, (image + 1) * floatsPerImage), i * floatsPerImage);
  }
  return out;
}
