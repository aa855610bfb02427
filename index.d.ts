// Public typings of isolated-quickjs: isolated-vm's API, served by QuickJS-ng.
//
// Everything a program written against isolated-vm 5.x can name is declared here with the same
// name and a compatible shape, so that `"isolated-vm": "npm:isolated-quickjs@…"` type-checks
// unchanged. Where QuickJS has no counterpart to a V8 feature (inspector, snapshots, CPU profiler,
// native addons) the declaration is kept for source compatibility and its doc comment says that
// the call throws.
//
// The declarations of the `ivm` namespace are the public surface. The helper types above it are
// private to this file: they compute what a call returns, or accepts, from the transfer options
// written at the call site.

// ---------------------------------------------------------------------------------------------
// Type-level machinery (not exported)
// ---------------------------------------------------------------------------------------------

/** Key of the phantom members that make the handle classes nominal. Never present at runtime. */
declare const handleOf: unique symbol
/** Key of the phantom member of `copyInto()` markers. */
declare const copiedValue: unique symbol
/** Key of the phantom member of `derefInto()` markers. */
declare const dereferencedValue: unique symbol

/** Transfer options, written with a literal `true`, that pick one way of moving a value. */
type PicksCopy = { copy: true }
type PicksExternalCopy = { externalCopy: true }
type PicksReference = { reference: true }
type PicksAnyMode = PicksCopy | PicksExternalCopy | PicksReference
/** Transfer options that ask for a promise to be settled before the value moves. */
type PicksPromise = { promise: true }

/**
 * `Flags`, where at most one of the keys in `OneOf` may be `true`: one alternative per key, in
 * which that key may be anything `Flags` allows and every other key of `OneOf` is `false` or
 * absent.
 */
type AtMostOne<Flags, OneOf extends keyof Flags> = {
	[Chosen in OneOf]-?: Flags & { [Other in Exclude<OneOf, Chosen>]?: false }
}[OneOf]

/**
 * What a value of type `Value` becomes on arrival, for transfer options `Options`. With no mode
 * chosen, a transferable value arrives as itself and any other value as `Otherwise`: a
 * `Reference` to it (`'reference'`, the rule of `get`) or, when the call does not say, any
 * `Transferable`.
 */
type Arrival<Options, Value, Otherwise extends 'reference' | 'transferable'> =
	Options extends PicksCopy ? Value
	: Options extends PicksExternalCopy ? ivm.ExternalCopy<Value>
	: Options extends PicksReference ? ivm.Reference<Value>
	: Value extends ivm.Transferable ? Value
	: Value extends void ? void
	: Otherwise extends 'reference' ? ivm.Reference<Value>
	: ivm.Transferable

/** The value a call hands back: with `promise: true` a promised value is settled first. */
type Settled<Options, Value, Otherwise extends 'reference' | 'transferable'> =
	Options extends PicksPromise ? Arrival<Options, Awaited<Value>, Otherwise> : Arrival<Options, Value, Otherwise>

/**
 * Result of a synchronous spelling (`getSync`, `runSync`, `applySync`…). With `promise: true`
 * the call cannot wait for the settlement, so even these return a Promise.
 */
type SyncResult<Options, Value, Otherwise extends 'reference' | 'transferable'> =
	Options extends PicksPromise ? Promise<Settled<Options, Value, Otherwise>> : Settled<Options, Value, Otherwise>

/**
 * What may be passed where the receiving side expects a `Value`, under transfer options
 * `Options`: the value itself when a mode is chosen or when it is transferable anyway (any
 * transferable otherwise), a promise of it under `promise: true`, or a marker that lands as it.
 */
type Sendable<Options, Value> =
	| (Options extends PicksPromise ? Outgoing<Options, Value> | Promise<Outgoing<Options, Value>> : Outgoing<Options, Value>)
	| ivm.Copy<Value>
	| ivm.Dereference<Value>
type Outgoing<Options, Value> =
	Options extends PicksAnyMode ? Value : Value extends ivm.Transferable ? Value : ivm.Transferable

/** Each element of the tuple `List`, as a `Sendable` under `Options`. */
type SendableList<Options, List extends readonly unknown[]> = { [Index in keyof List]: Sendable<Options, List[Index]> }

/** The `arguments` and `result` halves of a two-way options object (`{}` when left out). */
type ArgumentsHalf<Options> = Options extends { arguments: infer Half } ? TransferHalf<Half> : {}
type ResultHalf<Options> = Options extends { result: infer Half } ? TransferHalf<Half> : {}
type TransferHalf<Half> = Half extends ivm.TransferOptions ? Half : {}

/** Parameters, `this` and return type of a referenced function (loose when it is no function). */
type ParametersOf<Target> = Target extends (...args: infer List) => unknown ? List : any[]
type ReceiverOf<Target> = Target extends (this: infer This, ...args: any) => unknown ? This : undefined | null
type ReturnOf<Target> = Target extends (...args: any) => infer Result ? Result : unknown

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

declare namespace ivm {
	/**
	 * A value that may cross from one isolate (or the host) into another as it is: primitives
	 * other than symbols, the handle classes of this module, the markers made by `derefInto()` and
	 * `copyInto()`, functions (they cross as `Callback`s) and the module object itself.
	 *
	 * Anything else needs a transfer option (`copy`, `externalCopy`, `reference`) to cross.
	 */
	type Transferable =
		| null
		| undefined
		| boolean
		| number
		| bigint
		| string
		| Isolate
		| Context
		| Script
		| Module
		| Reference<any>
		| ExternalCopy<any>
		| Callback<any>
		| Copy<any>
		| Dereference<any>
		| ((...args: any[]) => any)
		| typeof ivm

	// -----------------------------------------------------------------------------------------
	// Isolate
	// -----------------------------------------------------------------------------------------

	/**
	 * One sandbox: a QuickJS runtime with its own heap, memory limit and execution thread. Handles
	 * to it are transferable. Everything created in it (contexts, scripts, references) keeps it
	 * alive; call `dispose()` to free its memory at once instead of waiting for the garbage
	 * collector.
	 */
	class Isolate {
		private readonly [handleOf]: 'Isolate'

		/**
		 * Starts a new isolate.
		 * @throws TypeError when `memoryLimit` is not a number; Error when it is below 8, or when
		 * `inspector` or `snapshot` is given (QuickJS has neither).
		 */
		constructor(options?: IsolateOptions)

		/**
		 * Builds a heap snapshot from setup scripts, for `IsolateOptions.snapshot`.
		 *
		 * Not supported by isolated-quickjs: QuickJS cannot serialize a heap, so this always
		 * throws an Error saying so.
		 * @param warmupScript code run once before the snapshot is taken, to warm up compilation
		 */
		static createSnapshot(scripts: readonly SnapshotScriptInfo[], warmupScript?: string): ExternalCopy<ArrayBuffer>

		/** Nanoseconds of CPU time this isolate's thread has spent running its code. */
		readonly cpuTime: bigint

		/**
		 * Nanoseconds of elapsed ("wall clock") time spent running in this isolate, including time
		 * spent waiting, for instance on a call into another isolate or the host.
		 */
		readonly wallTime: bigint

		/** `true` once `dispose()` was called or the isolate was torn down (memory limit hit). */
		readonly isDisposed: boolean

		/**
		 * How many live handles point into this isolate: references, contexts, scripts and other
		 * handles created by this module count once per underlying handle.
		 */
		readonly referenceCount: number

		/**
		 * Compiles classic-script code for this isolate; run the result with `script.run()` in
		 * any context of this isolate. A syntax error rejects with a `SyntaxError` naming the file
		 * and position.
		 */
		compileScript(code: string, options?: ScriptInfo): Promise<Script>
		/** Synchronous `compileScript()`. */
		compileScriptSync(code: string, options?: ScriptInfo): Script

		/** Compiles ES module code for this isolate; see `Module` for linking and evaluating it. */
		compileModule(code: string, options?: CompileModuleOptions): Promise<Module>
		/** Synchronous `compileModule()`. */
		compileModuleSync(code: string, options?: CompileModuleOptions): Module

		/** Creates a new realm (global object and builtins) in this isolate. */
		createContext(options?: ContextOptions): Promise<Context>
		/** Synchronous `createContext()`. */
		createContextSync(options?: ContextOptions): Context

		/**
		 * Opens a V8 inspector (devtools) session.
		 *
		 * Not supported by isolated-quickjs (QuickJS has no inspector): always throws.
		 */
		createInspectorSession(): InspectorSession

		/**
		 * Tears the isolate down and frees its memory. Work still in flight rejects with
		 * `Isolate was disposed during execution`; every later use of the isolate or of its
		 * handles throws. Disposing twice throws `Isolate is already disposed`.
		 */
		dispose(): void

		/**
		 * Memory figures of this isolate, under the key names of Node's `v8.getHeapStatistics()`,
		 * plus `externally_allocated_size`.
		 */
		getHeapStatistics(): Promise<HeapStatistics>
		/** Synchronous `getHeapStatistics()`. */
		getHeapStatisticsSync(): HeapStatistics

		/**
		 * Starts a CPU profile under `title`.
		 *
		 * Not supported by isolated-quickjs (QuickJS has no sampling profiler): always throws.
		 */
		startCpuProfiler(title: string): void

		/**
		 * Stops the CPU profile started under `title` and returns one profile per thread the
		 * isolate ran on.
		 *
		 * Not supported by isolated-quickjs: always throws.
		 */
		stopCpuProfiler(title: string): Promise<ThreadCpuProfile[]>
	}

	/** Options of `new Isolate()`. */
	interface IsolateOptions {
		/**
		 * Cap on everything the isolate allocates, in megabytes (strings and ArrayBuffers
		 * included). Default 128, minimum 8. Reaching it disposes the isolate and rejects the
		 * running call with `Isolate was disposed during execution due to memory limit`; the host
		 * process carries on.
		 */
		memoryLimit?: number

		/** Enable the V8 inspector. Not supported by isolated-quickjs: `true` throws. */
		inspector?: boolean

		/**
		 * A heap snapshot from `Isolate.createSnapshot()` to start from. Not supported by
		 * isolated-quickjs: passing one throws.
		 */
		snapshot?: ExternalCopy<ArrayBuffer>

		/**
		 * Called if the engine reports an unrecoverable failure of the isolate. The isolate's
		 * resources are then lost: log the message, stop taking work and end the process.
		 */
		onCatastrophicError?: (message: string) => void
	}

	/** Memory figures of an isolate, in bytes (see `isolate.getHeapStatistics()`). */
	interface HeapStatistics {
		total_heap_size: number
		total_heap_size_executable: number
		total_physical_size: number
		total_available_size: number
		/** Bytes the engine holds for live objects and their data. */
		used_heap_size: number
		/** The most the heap may use, in bytes (set by `memoryLimit`). */
		heap_size_limit: number
		malloced_memory: number
		peak_malloced_memory: number
		does_zap_garbage: number
		/** Bytes held outside the JavaScript heap that still count against `memoryLimit`. */
		externally_allocated_size: number
	}

	/** One setup script of `Isolate.createSnapshot()`. */
	type SnapshotScriptInfo = ScriptOrigin & {
		/** Source text of the script. */
		code: string
	}

	// -----------------------------------------------------------------------------------------
	// Context
	// -----------------------------------------------------------------------------------------

	/** Options of `isolate.createContext()`. */
	interface ContextOptions {
		/** Attach the inspector to this context. Not supported by isolated-quickjs: `true` throws. */
		inspector?: boolean
	}

	/**
	 * A realm inside an isolate: its own global object and set of builtins. Contexts come from
	 * `isolate.createContext()` and are transferable.
	 */
	class Context {
		private readonly [handleOf]: 'Context'
		private constructor()

		/**
		 * A `Reference` to this context's global object. Releasing the context releases it too.
		 *
		 * `global.setSync('global', global.derefInto())` gives code in the context a `global`
		 * variable.
		 */
		readonly global: Reference<Record<PropertyKey, any>>

		/**
		 * Compiles `code` and runs it in this context; resolves to its completion value (what
		 * `eval` would return). With no transfer option a value that is not transferable comes
		 * back as `undefined`.
		 */
		eval<Options extends ContextEvalOptions>(code: string, options?: Options): Promise<Settled<Options, any, 'transferable'>>
		/** `eval()`, ignoring the result and any error. */
		evalIgnored(code: string, options?: ContextEvalOptions): void
		/** Synchronous `eval()`. */
		evalSync<Options extends ContextEvalOptions>(code: string, options?: Options): SyncResult<Options, any, 'transferable'>

		/**
		 * Runs `code` as the body of a function, whose arguments `args` it sees as `$0`, `$1`, …;
		 * `return` gives the result. `options.arguments` says how the arguments cross,
		 * `options.result` how the result comes back.
		 */
		evalClosure<Options extends ContextEvalClosureOptions>(
			code: string,
			args?: readonly any[],
			options?: Options,
		): Promise<Settled<ResultHalf<Options>, any, 'transferable'>>
		/** `evalClosure()`, ignoring the result and any error. */
		evalClosureIgnored<Options extends ContextEvalClosureOptions>(code: string, args?: readonly any[], options?: Options): void
		/** Synchronous `evalClosure()`. */
		evalClosureSync<Options extends ContextEvalClosureOptions>(
			code: string,
			args?: readonly any[],
			options?: Options,
		): SyncResult<ResultHalf<Options>, any, 'transferable'>

		/**
		 * Drops this handle to the context (and its `global`). The realm itself goes away once
		 * nothing else refers to it.
		 */
		release(): void
	}

	/** Options of `context.eval()` and its spellings. */
	type ContextEvalOptions = RunOptions & ScriptOrigin & TransferOptions

	/** Options of `context.evalClosure()` and its spellings. */
	type ContextEvalClosureOptions = RunOptions & ScriptOrigin & TransferOptionsBidirectional

	// -----------------------------------------------------------------------------------------
	// Script
	// -----------------------------------------------------------------------------------------

	/**
	 * Compiled code, from `isolate.compileScript()`. It can run any number of times, in any
	 * context of the isolate that compiled it. Transferable.
	 */
	class Script {
		private readonly [handleOf]: 'Script'
		private constructor()

		/**
		 * Cached compilation data, present when the script was compiled with
		 * `produceCachedData: true`; pass it back as `cachedData` to skip parsing next time.
		 */
		readonly cachedData?: ExternalCopy<ArrayBuffer>

		/**
		 * Present when `cachedData` was supplied at compile time: `true` if that data was
		 * rejected (and the source compiled instead).
		 */
		readonly cachedDataRejected?: boolean

		/**
		 * Drops this handle. Whatever earlier runs created stays alive in its context; only
		 * running this script again becomes impossible.
		 */
		release(): void

		/**
		 * Runs the script in `context` and resolves to its completion value. With no transfer
		 * option a value that is not transferable comes back as `undefined`.
		 */
		run<Options extends ScriptRunOptions>(context: Context, options?: Options): Promise<Settled<Options, any, 'transferable'>>
		/** `run()`, ignoring the result and any error. */
		runIgnored(context: Context, options?: ScriptRunOptions): void
		/** Synchronous `run()`. */
		runSync<Options extends ScriptRunOptions>(context: Context, options?: Options): SyncResult<Options, any, 'transferable'>
	}

	/** Options of `script.run()` and its spellings. */
	type ScriptRunOptions = RunOptions & ReleaseOptions & TransferOptions

	// -----------------------------------------------------------------------------------------
	// Module
	// -----------------------------------------------------------------------------------------

	/** Options of `isolate.compileModule()`. */
	type CompileModuleOptions = ScriptInfo & {
		/**
		 * Fills in `import.meta`: called with the (empty) meta object the first time the module
		 * reads `import.meta`. Only usable when compiling from inside the same isolate.
		 */
		meta?: (meta: any) => void
	}

	/**
	 * An ES module compiled by `isolate.compileModule()`. It can only be used in the isolate that
	 * compiled it: link it with `instantiate()`, then run it with `evaluate()`. Transferable.
	 */
	class Module {
		private readonly [handleOf]: 'Module'
		private constructor()

		/** The specifiers of the module's static imports, in source order. */
		readonly dependencySpecifiers: string[]

		/** A `Reference` to the module namespace object (its exports), once `evaluate()` was called. */
		readonly namespace: Reference<any>

		/** Cached compilation data, when compiled with `produceCachedData: true`. */
		readonly cachedData?: ExternalCopy<ArrayBuffer>

		/** When `cachedData` was supplied at compile time: `true` if it was rejected. */
		readonly cachedDataRejected?: boolean

		/**
		 * Links the module and all it imports, directly or not, in `context`. `resolve` is
		 * asked for the module of each import (`specifier` as written, in the module
		 * `referrer`) and may answer with a promise. Calling it again has no effect.
		 */
		instantiate(context: Context, resolve: (specifier: string, referrer: Module) => Module | Promise<Module>): Promise<void>
		/** Synchronous `instantiate()`: `resolve` must answer at once. */
		instantiateSync(context: Context, resolve: (specifier: string, referrer: Module) => Module): void

		/**
		 * Runs the module body (top-level await included), after `instantiate()`. It runs
		 * once; its result is `undefined`, and so is every later call's, as in isolated-vm.
		 */
		evaluate(options?: ScriptRunOptions): Promise<Transferable>
		/** Synchronous `evaluate()`. */
		evaluateSync(options?: ScriptRunOptions): Transferable

		/** Drops this handle, like the other `release()` methods. */
		release(): void
	}

	// -----------------------------------------------------------------------------------------
	// Reference
	// -----------------------------------------------------------------------------------------

	/** Options of `new Reference()`. */
	interface ReferenceOptions {
		/**
		 * Let the `get` family follow the prototype chain instead of reading own properties
		 * only. Never hand a reference made this way to untrusted code.
		 */
		unsafeInherit?: boolean
	}

	/** Options of `reference.get()` and `reference.getSync()`. */
	type ReferenceGetOptions = TransferOptions & {
		/**
		 * Run getters and proxy traps when reading the property; without it such a read throws
		 * (`Property is getter`). There is no timeout for these, so keep it to trusted code.
		 */
		accessors?: boolean
	}

	/** Options of `reference.apply()` and its spellings. */
	type ReferenceApplyOptions = RunOptions & TransferOptionsBidirectional

	/**
	 * A handle to a value that lives in some isolate (or in the host, for `new Reference(value)`).
	 * The value stays where it is; the methods act on it there. Transferable: passed into the
	 * isolate that owns the value (through `derefInto()`) it becomes the value again.
	 *
	 * `T` is the type of the referenced value; it types property names, arguments and results.
	 */
	class Reference<T = any> {
		private readonly [handleOf]: ['Reference', T]

		/** A reference to `value`, owned by the calling isolate. */
		constructor(value: T, options?: ReferenceOptions)

		/**
		 * `typeof` of the referenced value, readable from anywhere at any time, except that
		 * `null` gives `"null"`.
		 */
		readonly typeof: string

		/** A structured-clone copy of the referenced value, made in the calling isolate. */
		copy(): Promise<T>
		/** Synchronous `copy()`. */
		copySync(): T

		/**
		 * The referenced value itself. Only from the isolate that owns it: elsewhere this throws
		 * `Cannot dereference this from current isolate`.
		 */
		deref(options?: ReleaseOptions): T

		/**
		 * A marker that becomes the referenced value when it lands in the owning isolate (as an
		 * argument, a property value, a result…). Made with `release: true`, it can be used once.
		 */
		derefInto(options?: ReleaseOptions): Dereference<T>

		/** Drops this handle; any later use of it throws `Reference has been released`. */
		release(): void

		/** Deletes a property of the referenced object, like `delete value[property]`. */
		delete(property: keyof T): Promise<void>
		/** `delete()`, ignoring the outcome. */
		deleteIgnored(property: keyof T): void
		/** Synchronous `delete()`. */
		deleteSync(property: keyof T): void

		/**
		 * Reads an own property of the referenced object (inherited ones too with
		 * `unsafeInherit`). Getters and proxies throw unless `accessors` is set. A value that is
		 * not transferable comes back as a `Reference` to it, unless a transfer option says
		 * otherwise.
		 */
		get<Options extends ReferenceGetOptions, Key extends keyof T>(
			property: Key,
			options?: Options,
		): Promise<Settled<Options, T[Key], 'reference'>>
		/** Synchronous `get()`. */
		getSync<Options extends ReferenceGetOptions, Key extends keyof T>(
			property: Key,
			options?: Options,
		): SyncResult<Options, T[Key], 'reference'>

		/**
		 * Sets a property of the referenced object, like `value[property] = newValue`. Without a
		 * transfer option the new value must be transferable.
		 */
		set<Options extends TransferOptions, Key extends keyof T>(
			property: Key,
			value: Sendable<Options, T[Key]>,
			options?: Options,
		): Promise<void>
		/** `set()`, ignoring the outcome. */
		setIgnored<Options extends TransferOptions, Key extends keyof T>(
			property: Key,
			value: Sendable<Options, T[Key]>,
			options?: Options,
		): void
		/** Synchronous `set()`. */
		setSync<Options extends TransferOptions, Key extends keyof T>(
			property: Key,
			value: Sendable<Options, T[Key]>,
			options?: Options,
		): void

		/**
		 * Calls the referenced function with `receiver` as `this` and `args` as arguments.
		 * `options.arguments` says how the arguments cross, `options.result` how the result
		 * comes back; without a result option a value that is not transferable comes back as a
		 * `Reference` to it.
		 */
		apply<Options extends ReferenceApplyOptions>(
			receiver?: Sendable<ArgumentsHalf<Options>, ReceiverOf<T>>,
			args?: SendableList<ArgumentsHalf<Options>, ParametersOf<T>>,
			options?: Options,
		): Promise<Settled<ResultHalf<Options>, ReturnOf<T>, 'transferable'>>
		/** `apply()`, ignoring the result and any error. */
		applyIgnored<Options extends ReferenceApplyOptions>(
			receiver?: Sendable<ArgumentsHalf<Options>, ReceiverOf<T>>,
			args?: SendableList<ArgumentsHalf<Options>, ParametersOf<T>>,
			options?: Options,
		): void
		/** Synchronous `apply()`. */
		applySync<Options extends ReferenceApplyOptions>(
			receiver?: Sendable<ArgumentsHalf<Options>, ReceiverOf<T>>,
			args?: SendableList<ArgumentsHalf<Options>, ParametersOf<T>>,
			options?: Options,
		): SyncResult<ResultHalf<Options>, ReturnOf<T>, 'transferable'>

		/**
		 * For a function that lives in the host, called from code in an isolate that is running
		 * asynchronously (under `run()`, `eval()`…, not their `Sync` spellings): the isolate
		 * pauses until the promise the function returns settles, then carries on with its value
		 * (or throws its error). Sync calls from the host into the paused isolate still work;
		 * async ones wait. From the host itself it throws `This function may not be called from
		 * the default thread`.
		 */
		applySyncPromise<Options extends ReferenceApplyOptions>(
			receiver?: Sendable<ArgumentsHalf<Options>, ReceiverOf<T>>,
			args?: SendableList<ArgumentsHalf<Options>, ParametersOf<T>>,
			options?: Options,
		): SyncResult<ResultHalf<Options>, ReturnOf<T>, 'transferable'>
	}

	/**
	 * The marker returned by `reference.derefInto()`: wherever it lands in the isolate that owns
	 * the value, it is replaced by the value itself. It has no methods and no constructor.
	 */
	interface Dereference<T> {
		readonly [dereferencedValue]: T
	}

	// -----------------------------------------------------------------------------------------
	// ExternalCopy
	// -----------------------------------------------------------------------------------------

	/** Options of `new ExternalCopy()`. */
	interface ExternalCopyOptions {
		/**
		 * ArrayBuffers whose contents move into the copy instead of being duplicated; they are
		 * detached on the sending side, as with `postMessage`.
		 */
		transferList?: any[]
		/** Move (rather than copy) an ArrayBuffer or typed array given as the value. */
		transferOut?: boolean
	}

	/** Options of `externalCopy.copy()` and `externalCopy.copyInto()`. */
	type ExternalCopyCopyOptions = ReleaseOptions & {
		/** Move the data into the receiving heap, which releases this ExternalCopy. */
		transferIn?: boolean
	}

	/**
	 * A structured-clone copy of a value, held outside every heap, that can be copied into any
	 * isolate. Copies primitives, plain objects, arrays, Date, RegExp, Map, Set, ArrayBuffers,
	 * typed arrays, DataViews, boxed primitives, bigints and Error objects, keeping cycles and
	 * shared sub-objects; a function or symbol anywhere in the value throws a TypeError
	 * (`… could not be cloned.`). Transferable.
	 */
	class ExternalCopy<T = any> {
		private readonly [handleOf]: ['ExternalCopy', T]

		/** Copies `value` now; later changes to `value` do not show in the copy. */
		constructor(value: T, options?: ExternalCopyOptions)

		/** Bytes currently held by all live ExternalCopy instances. */
		static readonly totalExternalSize: number

		/** A fresh copy of the value in the calling heap. */
		copy(options?: ExternalCopyCopyOptions): T

		/**
		 * A marker that becomes a fresh copy of the value wherever it lands (as an argument, a
		 * property value, a result…). Made with `release: true`, it can be used once.
		 */
		copyInto(options?: ExternalCopyCopyOptions): Copy<T>

		/** Drops this handle; any later use of it throws `Copy has been released`. */
		release(): void
	}

	/**
	 * The marker returned by `externalCopy.copyInto()`: wherever it lands, it is replaced by a
	 * copy of the value. It has no methods and no constructor.
	 */
	interface Copy<T> {
		readonly [copiedValue]: T
	}

	// -----------------------------------------------------------------------------------------
	// Callback
	// -----------------------------------------------------------------------------------------

	/** The invocation flags of `new Callback()`; at most one of them may be `true`. */
	interface CallbackModes {
		/** The isolate's call returns a Promise of the host function's result. */
		async?: boolean
		/** The isolate's call blocks until the host function returns (the default). */
		sync?: boolean
		/** The isolate's call returns `undefined` at once; the result and any error are dropped. */
		ignored?: boolean
	}

	/** Options of `new Callback()`: at most one of `async`, `sync` and `ignored`. */
	type CallbackOptions = AtMostOne<CallbackModes, 'async' | 'sync' | 'ignored'>

	/**
	 * A host function packaged for an isolate: transferred there it is a plain function whose
	 * arguments and result are copied (structured clone) across. Plain functions passed where a
	 * transferable is expected become sync Callbacks on their own. Transferable.
	 */
	class Callback<T extends (...args: any[]) => any = any> {
		private readonly [handleOf]: ['Callback', T]

		constructor(value: T, options?: CallbackOptions)
	}

	// -----------------------------------------------------------------------------------------
	// NativeModule
	// -----------------------------------------------------------------------------------------

	/**
	 * A native addon to load into isolates.
	 *
	 * Not supported by isolated-quickjs (QuickJS cannot host V8 addons): the constructor always
	 * throws an Error saying so.
	 */
	class NativeModule {
		private readonly [handleOf]: 'NativeModule'

		/** @param filename full path of the compiled `.node` library */
		constructor(filename: string)

		/** Initializes the addon for `context`; the reference is meant for `derefInto()` there. */
		create(context: Context): Promise<Reference<any>>
		/** Synchronous `create()`. */
		createSync(context: Context): Reference<any>
	}

	// -----------------------------------------------------------------------------------------
	// lib
	// -----------------------------------------------------------------------------------------

	/** The helpers found at `ivm.lib`. */
	interface Lib {
		/**
		 * High-resolution time as `[seconds, nanoseconds]`, like `process.hrtime()`: given an
		 * earlier reading, the time elapsed since then.
		 */
		hrtime(previous?: [seconds: number, nanoseconds: number]): [seconds: number, nanoseconds: number]

		/** A new, unique symbol described by `name`, for use as a private property key. */
		privateSymbol(name?: string): symbol
	}

	/** Small utilities: `hrtime` and `privateSymbol`. */
	const lib: Lib

	// -----------------------------------------------------------------------------------------
	// Profiler and inspector shapes (declared for compatibility; see the methods that use them)
	// -----------------------------------------------------------------------------------------

	/** One thread's profile from `isolate.stopCpuProfiler()`. */
	interface ThreadCpuProfile {
		/** The thread the isolate ran on. */
		threadId: number
		profile: CpuProfile
	}

	/** A CPU profile in the devtools protocol's `Profiler.Profile` format. */
	interface CpuProfile {
		startTime: number
		endTime: number
		samples: number[]
		timeDeltas: number[]
		nodes: Array<{
			id: number
			hitCount: number
			children: number[]
			callFrame: {
				functionName: string
				/** The `filename` of the script. */
				url: string
				scriptId: number
				lineNumber: number
				/** Spelling of `lineNumber` used by isolated-vm's typings; kept so they can be read the same way. */
				lineNubmer: number
				columnNumber: number
				bailoutReason?: string
			}
		}>
	}

	/** A devtools protocol session from `isolate.createInspectorSession()`. */
	interface InspectorSession {
		/** Sends one protocol message (JSON text) to the inspector. */
		dispatchProtocolMessage(message: string): void
		/** Closes the session. */
		dispose(): void
		/** Receives protocol notifications. */
		onNotification: (message: string) => void
		/** Receives the answer to the message with id `callId`. */
		onResponse: (callId: number, message: string) => void
	}

	// -----------------------------------------------------------------------------------------
	// Shared options
	// -----------------------------------------------------------------------------------------

	/** Where compiled code says it comes from, as shown in stack traces. */
	interface ScriptOrigin {
		/** Name shown in stack frames (default `<isolated-vm>`). A URL such as `file:///a.js` works well. */
		filename?: string
		/** Added to every column number of the first line. */
		columnOffset?: number
		/** Added to every line number. */
		lineOffset?: number
	}

	/**
	 * Compiled-code caching. The cache data is QuickJS bytecode; it is validated before use and
	 * rejected (`cachedDataRejected`) when it does not fit. Like any compiled code, do not accept
	 * it from untrusted sources.
	 */
	interface CachedDataOptions {
		/** Data produced by an earlier `produceCachedData` compile of the same source. */
		cachedData?: ExternalCopy<ArrayBuffer>
		/** Produce cache data and make it available as `cachedData` on the compiled object. */
		produceCachedData?: boolean
	}

	/** The cache fields of a compiled `Script` or `Module`. */
	interface CachedDataResult {
		/** Produced cache data (with `produceCachedData: true`). */
		cachedData?: ExternalCopy<ArrayBuffer>
		/** Whether supplied `cachedData` was rejected. */
		cachedDataRejected?: boolean
		/** Declared by isolated-vm's typings but never set by either implementation. */
		producedCacheData?: boolean
	}

	/** Options of the `compileScript` family. */
	type ScriptInfo = CachedDataOptions & ScriptOrigin

	/** Options of calls that can release their handle when done. */
	interface ReleaseOptions {
		/** Call `release()` on this handle once the call is done. */
		release?: boolean
	}

	/** Options of calls that run code. */
	interface RunOptions {
		/**
		 * Milliseconds of execution in the isolate after which the call fails with `Script
		 * execution timed out.` (the isolate stays usable). Time spent paused on the host does not
		 * count. Default: no limit.
		 */
		timeout?: number
	}

	/** Every way of moving a value, as flags; see `TransferOptions`. */
	interface TransferFlags {
		/**
		 * If the value is a promise (thenable), wait for it and move the settled value instead;
		 * a rejection arrives as an error. Combines with the other options.
		 */
		promise?: boolean
		/** Move a deep structured-clone copy of the value. */
		copy?: boolean
		/** Move an `ExternalCopy` of the value. */
		externalCopy?: boolean
		/** Move a `Reference` to the value. */
		reference?: boolean
	}

	/**
	 * How a value moves between isolates: at most one of `copy`, `externalCopy` and `reference`,
	 * optionally with `promise`. With none of the three only transferable values move as they
	 * are; what happens to others depends on the call (`undefined`, a `Reference`, or a
	 * TypeError).
	 */
	type TransferOptions = AtMostOne<TransferFlags, 'copy' | 'externalCopy' | 'reference'>

	/** Transfer options for calls where values go in and a result comes out. */
	interface TransferOptionsBidirectional {
		/** How the arguments move into the isolate that runs the call. */
		arguments?: TransferOptions
		/** How the result moves back out. */
		result?: TransferOptions
	}
}

export = ivm
