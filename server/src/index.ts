/** `npm start`: the demo (catalogue, feature store, recommendations, demo site) with the collector. */
import { serve } from './cli/serve.js';

await serve('demo');
