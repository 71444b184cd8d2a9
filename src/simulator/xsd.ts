import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  XmlBufferInputProvider,
  XmlDocument,
  XmlError,
  XmlValidateError,
  XsdValidator,
  xmlRegisterInputProvider,
} from 'libxml2-wasm';
import { redactNumbers } from './validate-request.js';
import { XSD_FILES } from './xsd-dir.js';

export { extractAddMessage } from './validate-request.js';

/**
 * The published AddMessage 2 schema, compiled once with libxml2 (WebAssembly),
 * to judge AddMessage elements the way a schema-validating producer would.
 * The files are read unmodified; two fixes are made in memory at load time:
 * the anchors of the SubjectOfCareIdType pattern are removed (the known
 * defect, see PROVENANCE.md), and the responder's import of
 * `../../core_components/...` is served the sibling core file.
 */
export type XsdVerdict = { ok: true } | { ok: false; errors: string[] };

export interface AddMessageSchema {
  /** The target namespaces of the responder and core schemas. */
  readonly namespaces: { readonly responder: string; readonly core: string };
  /**
   * Validates a standalone AddMessage document (see extractAddMessage). Errors
   * are libxml2's, one line each, with any value that could be a personnummer masked.
   */
  validate(addMessageXml: string): XsdVerdict;
  /** Frees the compiled schema; validate() throws afterwards. */
  dispose(): void;
}

const DEFECTIVE_PATTERN =
  /(<xs:simpleType\s+name="SubjectOfCareIdType"\s*>\s*<xs:restriction\s+base="xs:string"\s*>\s*<xs:pattern\s+value=")\^(\[0-9\]\{8\}\[0-9pPtTfF\]\[0-9\]\{3\})\$("\s*\/>)/;
const CORE_IMPORT = `schemaLocation="../../core_components/${XSD_FILES.core}"`;

/** One provider for the process: libxml2's input callbacks are global. Each load uses its own folder. */
let provider: XmlBufferInputProvider | undefined;
let loads = 0;

function memoryProvider(): XmlBufferInputProvider {
  if (!provider) {
    provider = new XmlBufferInputProvider({});
    if (!xmlRegisterInputProvider(provider)) throw new Error('libxml2: could not register an input provider');
  }
  return provider;
}

function targetNamespace(xsd: string, file: string): string {
  const found = /<xs:schema\b[^>]*\btargetNamespace="([^"]+)"/.exec(xsd);
  if (!found) throw new Error(`${file}: no targetNamespace`);
  return found[1]!;
}

/** Makes a libxml2 message one line, with values masked. */
function cleanError(message: string): string {
  return redactNumbers(
    message
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/(The value ')[\s\S]*?(' (?:is|has)\b)/g, '$1[value]$2')
      .replace(/(': ')[\s\S]*?(' is not a valid value)/g, '$1[value]$2'),
  );
}

/**
 * Reads and compiles the AddMessage schema from `dir` (see resolveXsdDir).
 * Throws an Error naming the file when a file is missing, when the known
 * pattern defect is not found as published (the schema has changed: check the
 * fix still applies), or when the schema does not compile.
 */
export function loadAddMessageSchema(dir: string): AddMessageSchema {
  const read = (file: string) => {
    try {
      return readFileSync(join(dir, file), 'utf8');
    } catch (cause) {
      throw new Error(`cannot read the AddMessage schema ${join(dir, file)}`, { cause });
    }
  };
  const responder = read(XSD_FILES.responder);
  const core = read(XSD_FILES.core);
  if (!DEFECTIVE_PATTERN.test(core)) {
    throw new Error(
      `${join(dir, XSD_FILES.core)}: the SubjectOfCareIdType pattern is not the published "^[0-9]{8}[0-9pPtTfF][0-9]{3}$" ` +
        '(see PROVENANCE.md); the schema has changed, so check whether the defect fix still applies',
    );
  }
  if (responder.split(CORE_IMPORT).length !== 2) {
    throw new Error(`${join(dir, XSD_FILES.responder)}: the import ${CORE_IMPORT} is not there as published`);
  }
  const fixedCore = core.replace(DEFECTIVE_PATTERN, '$1$2$3');
  const namespaces = {
    responder: targetNamespace(responder, XSD_FILES.responder),
    core: targetNamespace(core, XSD_FILES.core),
  };

  // The responder is parsed as if at <base>/interactions/AddMessage/, so its
  // relative import resolves to <base>/core_components/, served from memory.
  const base = `/utskick-inbox-xsd/${++loads}`;
  const corePath = `${base}/core_components/${XSD_FILES.core}`;
  const buffers = memoryProvider();
  buffers.addBuffer(corePath, new TextEncoder().encode(fixedCore));
  let schemaDoc: XmlDocument | undefined;
  let validator: XsdValidator;
  try {
    schemaDoc = XmlDocument.fromString(responder, {
      url: `${base}/interactions/AddMessage/${XSD_FILES.responder}`,
    });
    validator = XsdValidator.fromDoc(schemaDoc);
  } catch (cause) {
    schemaDoc?.dispose();
    const detail = cause instanceof Error ? cause.message.replace(/\s+/g, ' ').trim() : String(cause);
    throw new Error(`the AddMessage schema in ${dir} does not compile: ${detail}`, { cause });
  } finally {
    buffers.removeBuffer(corePath);
  }
  // The schema document stays alive with the validator: compiled components may point into it.
  const doc = schemaDoc;
  let disposed = false;

  return {
    namespaces,
    validate(addMessageXml) {
      if (disposed) throw new Error('the AddMessage schema has been disposed');
      let instance: XmlDocument;
      try {
        instance = XmlDocument.fromString(addMessageXml);
      } catch (err) {
        if (err instanceof XmlError)
          return { ok: false, errors: [cleanError(`not well-formed: ${err.message}`)] };
        throw err;
      }
      try {
        validator.validate(instance);
        return { ok: true };
      } catch (err) {
        if (!(err instanceof XmlValidateError)) throw err;
        const errors = err.details.length > 0 ? err.details.map((d) => d.message) : [err.message];
        return { ok: false, errors: errors.map(cleanError) };
      } finally {
        instance.dispose();
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      validator.dispose();
      doc.dispose();
    },
  };
}
