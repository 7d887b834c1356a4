/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type * as config_topFreeModels from "../config/topFreeModels.js";
import type * as config_topPaidModels from "../config/topPaidModels.js";
import type * as lib_aiModels from "../lib/aiModels.js";
import type * as lib_documents from "../lib/documents.js";
import type * as lib_errors from "../lib/errors.js";
import type * as lib_history from "../lib/history.js";
import type * as lib_limits from "../lib/limits.js";
import type * as lib_validators from "../lib/validators.js";
import type * as mutations_activation from "../mutations/activation.js";
import type * as mutations_history from "../mutations/history.js";
import type * as mutations_syncModels from "../mutations/syncModels.js";
import type * as queries_aiModels from "../queries/aiModels.js";
import type * as queries_history from "../queries/history.js";

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";

declare const fullApi: ApiFromModules<{
  "config/topFreeModels": typeof config_topFreeModels;
  "config/topPaidModels": typeof config_topPaidModels;
  "lib/aiModels": typeof lib_aiModels;
  "lib/documents": typeof lib_documents;
  "lib/errors": typeof lib_errors;
  "lib/history": typeof lib_history;
  "lib/limits": typeof lib_limits;
  "lib/validators": typeof lib_validators;
  "mutations/activation": typeof mutations_activation;
  "mutations/history": typeof mutations_history;
  "mutations/syncModels": typeof mutations_syncModels;
  "queries/aiModels": typeof queries_aiModels;
  "queries/history": typeof queries_history;
}>;

/**
 * A utility for referencing Convex functions in your app's public API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;

/**
 * A utility for referencing Convex functions in your app's internal API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = internal.myModule.myFunction;
 * ```
 */
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;

export declare const components: {};
