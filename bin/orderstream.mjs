#!/usr/bin/env node
// `npx orderstream <command>`: the CLI, run through tsx's loader (the sources are TypeScript).
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
