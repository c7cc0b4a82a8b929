/** The attribute and baggage keys of the demo's experiments (config/experiments.json), on the semconv prefix. */
import { ATTR } from '../common/src/semconv.js';

/** `rec_algorithm_v3`'s key: control, collaborative, hybrid. */
export const ALGORITHM_KEY = `${ATTR.EXPERIMENT_PREFIX}rec_algorithm`;
/** `ranking_boost_v2`'s key: control, recency_boost. */
export const BOOST_KEY = `${ATTR.EXPERIMENT_PREFIX}ranking_boost`;
