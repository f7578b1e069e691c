-- Reverse index for notifications: which manifests contain a package (binary or source) of a
-- given name. Names are stored lower-case, and also PEP 503-normalised when that differs.
CREATE TABLE manifest_package (
    manifest TEXT NOT NULL REFERENCES manifest (digest) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    PRIMARY KEY (manifest, name)
);
CREATE INDEX manifest_package_name ON manifest_package (name);
