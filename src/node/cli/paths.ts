// File names inside a run folder (RUN/), shared by train and generate.
export const CHECKPOINT_FILE = 'checkpoint.safetensors'; // the latest checkpoint, replaced atomically
