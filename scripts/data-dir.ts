/**
 * Where `npm start` keeps its state: `.data/` in the checkout (git-ignored), or ORDERSTREAM_DATA_DIR
 * — so a test can run a real `npm start` beside a developer's own without sharing its lock, store
 * or files.
 */
import { fileURLToPath } from "node:url";

export const DATA_DIR = process.env.ORDERSTREAM_DATA_DIR?.trim() || fileURLToPath(new URL("../.data", import.meta.url));
