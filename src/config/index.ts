/** Public surface of the configuration module. */
export {
  configSchema,
  defaultConfig,
  isValidSwarmKey,
  DEVICE_CLASSES,
  LOG_LEVELS,
  type SwarmConfig,
  type SectionName,
} from './schema.js';
export {
  KEY_SPECS,
  keySpec,
  parseValueText,
  formatTomlValue,
  closest,
  type KeySpec,
  type KeyKind,
  type ConfigValue,
} from './keys.js';
export {
  loadConfig,
  getConfigValue,
  validateRaw,
  parseToml,
  ENV_PREFIX,
  type LoadConfigOptions,
  type LoadedConfig,
  type ConfigOverride,
} from './load.js';
export {
  resolveConfigPath,
  resolveDataDir,
  APP_DIR,
  CONFIG_FILE,
  type ConfigLocation,
  type ConfigPathSource,
} from './paths.js';
export { setConfigKey, writeFileAtomic, editTomlLine, type SetResult } from './save.js';
export { configTemplate } from './template.js';
