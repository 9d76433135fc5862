-- A receiver's answer is kept byte for byte: text columns refuse a NUL
-- byte, and a body that is not UTF-8 would be changed by decoding it.
ALTER TABLE attempts ALTER COLUMN response_body TYPE BYTEA USING convert_to(response_body, 'UTF8');
