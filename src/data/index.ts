// The data room: data sets (IDX, CIFAR binary, or arrays you bring), where to find and how to
// download the standard ones, and how to split a training set among federated clients.
export {
  type Dataset, type DataSplits, type DatasetInit, type ImageShape, type AugmentOptions,
  makeDataset, subset, gatherBatch, normalize, normalizeImages, channelStats, augmentBatch, bytesToUnit,
} from './dataset.ts';
export { type IdxArray, type IdxDatasetOptions, parseIdx, readIdx, idxImages, idxLabels, idxDataset } from './idx.ts';
export {
  type CifarVariant, type CifarLabel, type CifarFile, type CifarOptions,
  CIFAR_SHAPE, parseCifar, cifarRecordBytes, cifarRecordCount, cifarClasses,
} from './cifar.ts';
export {
  type DatasetSpec, type IdxDatasetSpec, type CifarDatasetSpec, type DownloadSpec, type KnownDatasetName,
  type LocateOptions, type LoadOptions, type LocatedDataset, type DataSource,
  DATASETS, listDatasets, datasetSpec, splitMembers, defaultCacheDir, locateDataset, loadLocated, loadDataset,
} from './registry.ts';
export {
  type FetchOptions, type FetchResult, type FetchProgress, type DownloadOptions, type DownloadFileOptions,
  fetchDataset, downloadFile,
} from './fetch.ts';
export {
  type PartitionSpec, type PartitionOptions, type PartitionSummary,
  partition, parsePartitionSpec, formatPartitionSpec, partitionSummary, formatPartitionSummary, dirichlet, logGamma,
} from './partition.ts';
export { type Augmentation, type AugmentChoice, type PreparedData, prepareForTraining } from './prepare.ts';
export { readTar, type TarEntry, type TarVisitor } from './tar.ts';
export { isGzip, gunzip, maybeGunzip, sha256Hex } from './bytes.ts';
export { DataError, ChecksumError, DatasetNotFoundError, DownloadError } from './errors.ts';
