/** `npm start`: the demo (catalogue, feature store, recommendations, demo site) inside the collector. */
import { serveDemo } from './demo/index.js';

await serveDemo();
