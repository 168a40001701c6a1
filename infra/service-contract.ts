/**
 * Everything infra/ and charts/ take from the service, in one place: the configuration schema the ConfigMap is
 * rendered and validated with, the HTTP contract (port name, probe and metrics paths, public paths) and the metric
 * names the HPA and prometheus-adapter read. When the service moves these, only this file changes.
 */
import type { ConfigOverrides } from "../service/config/schema";

export {
  CONFIG_SCHEMA,
  HTTP_CONTRACT,
  METRIC_NAMES,
  loadConfig,
  renderEnvironment,
  type Config,
  type ConfigOverrides,
} from "../service/config/schema";

/**
 * The CLASSIFIER_ENVIRONMENT override for an environment named by the charts' own table. The chart names are plain
 * DNS labels; the service decides which values it accepts, and its validator (run on the rendered ConfigMap at
 * synth time) refuses any other with an error that names the variable, so the cast claims nothing unchecked.
 */
export function environmentOverride(environmentName: string): Pick<ConfigOverrides, "environment"> {
  return { environment: environmentName as ConfigOverrides["environment"] };
}
