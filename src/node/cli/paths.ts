// File names inside a run folder (RUN/), shared by train and generate.
export const CHECKPOINT_FILE = 'checkpoint.safetensors'; // the latest checkpoint, replaced atomically
export const BEST_FILE = 'best.safetensors'; // the checkpoint of the epoch with the lowest SWD (log.jsonl 'eval' lines)
