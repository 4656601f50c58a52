//! `kezctl`: the KEZ command line.
//!
//! It will hold the keystore (identities encrypted at rest), registration, `whois`, sending and
//! reading end-to-end encrypted messages, the live stream and `doctor`, a federation diagnosis.
//! Every wire format it speaks comes from `kez-spec`, never from a copy of its own.
