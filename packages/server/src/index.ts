export { startServer, createCore, type RunningServer } from './main';
export { startPrimary, startWorker, isWorkerProcess, workerNodeIds } from './cluster/workers';
export { loadConfig, ConfigError, type Config } from './config';
export { createLogger, silentLogger, type Logger } from './log';
export { ParleyServer } from './core/server';
export { AccountError } from './core/accounts';
export { copyStorage, copyStorageLocations, parseStorageLocation, TargetNotEmptyError } from './storage/copy';
