-- Each signing key says which JWS algorithm it signs with. Keys made before this migration are RS256; new keys follow
-- Auth:SigningAlgorithm (ES256 by default: a 64-byte signature instead of 256, so every bearer token is about 250
-- characters shorter on every call). A key keeps its algorithm for life, so a rotation is what switches algorithms, and
-- every host has published the new key before it signs anything.
ALTER TABLE auth.signing_keys ADD COLUMN algorithm text NOT NULL DEFAULT 'RS256' CHECK (algorithm IN ('RS256', 'ES256'));
