/** On-disk Raft storage: segmented WAL + snapshot file. */
export {
  FileRaftStorage,
  readDataDir,
  type DataDirImage,
  type PreparedSnapshot,
  DEFAULT_MAX_SEGMENT_BYTES,
  SNAPSHOT_FILE,
  segmentName,
  type FileStorageOptions,
  type StorageStats,
  type StorageWarning,
} from './file-storage.js';
export { WalCorruptionError, SnapshotCorruptionError, StorageError } from './errors.js';
export { nodeFs, type StorageFs, type StorageFile } from './fs.js';
export { encodeRecord, decodeRecord, encodedSize, type WalRecord, type DecodeResult } from './codec.js';
export { scanSegment, type SegmentScan, type TornTail } from './scan.js';
export { encodeSnapshot, decodeSnapshot } from './snapshot-codec.js';
export { persistReady, type PersistableReady } from './persist.js';
