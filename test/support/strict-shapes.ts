/** vitest setup (both configs): strict shapes in the test process when PCLOUD_STRICT_SHAPES=1 (the configs set it). */
import { setStrictShapes } from '../../src/api/model/strict.js';

setStrictShapes(process.env.PCLOUD_STRICT_SHAPES === '1');
