-- Conversations (SPEC §11, kezd/src/conversation.rs): a row says this server accepted a
-- message from sender to recipient (addresses), last recorded at last_at (Unix ms). Whether
-- a send is a first contact, and which of the recipient's budgets it counts against, is read
-- from here, so a restart or another instance agrees. Version 5 on both stores.
CREATE TABLE conversations (
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (sender, recipient)
);

-- The oldest records first, for forgetting them a year on.
CREATE INDEX conversations_last_at ON conversations (last_at);
