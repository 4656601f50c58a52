//! The KEZ protocol for the browser: identifiers (SPEC §2), signed objects (§3), registration
//! and deletion (§4), envelopes and end-to-end sealing (§6), request credentials (§7),
//! server-to-server signing (§9.3), the `kez-identity` key file, and a passphrase key for data
//! at rest. README.md beside this file describes the API.

export { KezError, isKezError, type KezErrorCode } from "./errors";
export {
  toHex,
  fromHex,
  toBase64,
  fromBase64,
  utf8,
  fromUtf8,
  concat,
  equalBytes,
  randomBytes,
} from "./bytes";
export {
  parseStrict,
  parseObject,
  isObject,
  checkSignedNumbers,
  type JsonValue,
  type JsonObject,
} from "./strict-json";
export { canonicalText, canonicalBytes } from "./jcs";
export { publicKeyOf, sign, newSeed, verifyStrict } from "./ed25519";
export {
  isHandle,
  parseHandle,
  handleProblem,
  isReservedHandle,
  RESERVED_HANDLES,
  MAX_HANDLE_LENGTH,
} from "./handle";
export { isServerName, parseServerName, normalizeServerName } from "./server-name";
export { parseAddress, isAddress, formatAddress, parseAddressInput, type Address } from "./address";
export { parsePrimary, isPrimary, formatPrimary, PRIMARY_PREFIX } from "./primary";
export {
  ALG_ED25519,
  parseSignatureMember,
  signingBytes,
  verifySignature,
  signObject,
  type SignatureMember,
  type SignedType,
} from "./signed-object";
export {
  makeRegistration,
  makeDeletion,
  checkRegistration,
  checkDeletion,
  ACCOUNT_WINDOW_MS,
  type AccountClaim,
} from "./account-objects";
export { verifyHandleRecord, type HandleRecord } from "./handle-record";
export { aesGcmEncrypt, aesGcmDecrypt } from "./aes-gcm";
export {
  seal,
  open,
  x25519SecretOf,
  x25519PublicOf,
  x25519Shared,
  hkdfSha256,
  hkdfExtract,
  type Sealed,
} from "./seal";
export {
  PROTOCOL_VERSION,
  MAX_BODY_BYTES,
  ENVELOPE_WINDOW_MS,
  messageId,
  parseEnvelope,
  verifyEnvelope,
  checkEnvelope,
  makeEnvelope,
  sendBody,
  receiveEnvelope,
  type Envelope,
  type Sender,
  type Recipient,
  type ReceivedMessage,
} from "./envelope";
export {
  authString,
  makeCredential,
  verifyCredential,
  CREDENTIAL_WINDOW_S,
  type AuthRequest,
} from "./credentials";
export {
  s2sString,
  s2sHeader,
  parseS2sHeader,
  verifyS2sRequest,
  S2S_WINDOW_S,
  type S2sRequest,
  type S2sParams,
} from "./s2s";
export { DEFAULT_COSTS, MAX_COSTS, type Argon2Costs } from "./argon2";
export {
  parseKeyFile,
  unlockKeyFile,
  importKeyFile,
  exportKeyFile,
  createIdentity,
  needsPassphrase,
  isIdentityName,
  type KeyFile,
  type Identity,
} from "./keyfile";
export {
  createStorageKey,
  deriveStorageKey,
  sealRecord,
  openRecord,
  type StorageKey,
  type StorageParams,
  type SealedRecord,
} from "./storage-key";
