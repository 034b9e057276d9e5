# Validates an Airlock rotation plan (plan.json, format airlock-plan/1) and
# prints one line per problem, naming the key and the field; prints nothing
# when the plan is valid. Used by rehearse.sh on the offline side (airlock-online
# prepare checks plans the same way in Rust, crates/airlock-online).
def specs: ["SYMMETRIC_DEFAULT","HMAC_224","HMAC_256","HMAC_384","HMAC_512",
  "RSA_2048","RSA_3072","RSA_4096","ECC_NIST_P256","ECC_NIST_P384","ECC_NIST_P521"];
def usages: ["ENCRYPT_DECRYPT","SIGN_VERIFY","GENERATE_VERIFY_MAC","KEY_AGREEMENT"];
def top_fields: ["format","request_id","aws_account","aws_region","keys"];
def key_fields: ["name","alias","environment","service","key_spec","strategy","key_id","key_usage","description"];
def str_ok($re): type == "string" and test($re);

if type != "object" then "the plan is not a JSON object"
else
  ( (keys - top_fields)[] | "unknown top-level field '\(.)' (allowed: \(top_fields | join(", ")))" ),
  ( if .format != "airlock-plan/1" then "field 'format' must be \"airlock-plan/1\", found \(.format | tojson)" else empty end ),
  ( if (.request_id | str_ok("^[A-Za-z0-9._-]{1,64}$")) then empty
    else "field 'request_id' must match ^[A-Za-z0-9._-]{1,64}$, found \(.request_id | tojson)" end ),
  ( if has("aws_account") and ((.aws_account | str_ok("^[0-9]{12}$")) | not)
    then "field 'aws_account' must be 12 digits in a string, found \(.aws_account | tojson)" else empty end ),
  ( if has("aws_region") and ((.aws_region | str_ok("^[a-z]{2}(-[a-z]+)+-[0-9]+$")) | not)
    then "field 'aws_region' is not a region name, found \(.aws_region | tojson)" else empty end ),
  ( if (.keys | type) != "array" or (.keys | length) == 0 then "field 'keys' must be a non-empty array"
    elif (.keys | length) > 10000 then "field 'keys' has \(.keys | length) entries; at most 10000"
    else
      ( .keys | to_entries[] | .key as $i | .value as $k
        | ($k.name // "?") as $n | "keys[\($i)] (\($n | tostring))" as $at
        | if ($k | type) != "object" then "\($at): not an object"
          else
            ( ($k | keys - key_fields)[] | "\($at): unknown field '\(.)' (allowed: \(key_fields | join(", ")))" ),
            ( if ($k.name | str_ok("^[a-z0-9][a-z0-9-]{0,62}$")) then empty
              else "\($at): field 'name' must match ^[a-z0-9][a-z0-9-]{0,62}$" end ),
            ( if ($k.alias | str_ok("^alias/[A-Za-z0-9/_-]{1,250}$")) and (($k.alias | startswith("alias/aws/")) | not) then empty
              else "\($at): field 'alias' must be alias/NAME (letters, digits, / _ -; not alias/aws/...), found \($k.alias | tojson)" end ),
            ( if ($k.environment | str_ok("^[a-z0-9][a-z0-9-]{0,31}$")) then empty
              else "\($at): field 'environment' must be a short lowercase name such as dev, int or prod" end ),
            ( if ($k.service | str_ok("^[a-z0-9][a-z0-9-]{0,31}$")) then empty
              else "\($at): field 'service' must be a short lowercase name such as s3, rds or dynamodb" end ),
            ( if ($k.key_spec | IN(specs[])) then empty
              else "\($at): field 'key_spec' must be one of \(specs | join(", ")), found \($k.key_spec | tojson)" end ),
            ( if $k.strategy == "on-demand" or $k.strategy == "new-key" then empty
              else "\($at): field 'strategy' must be \"on-demand\" or \"new-key\", found \($k.strategy | tojson)" end ),
            ( if $k.strategy == "on-demand" and $k.key_spec != "SYMMETRIC_DEFAULT"
              then "\($at): strategy on-demand is for SYMMETRIC_DEFAULT keys only (KMS rotates imported material on demand only for symmetric keys); use new-key" else empty end ),
            ( if $k.strategy == "on-demand" and ($k | has("key_id"))
              then "\($at): 'key_id' is for new-key entries (on-demand rotates the key the alias points to)" else empty end ),
            ( if ($k | has("key_id")) and (($k.key_id | str_ok("^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/)?[0-9a-f-]{36}$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/mrk-[0-9a-f]{32}$")) | not)
              then "\($at): field 'key_id' must be a key id or key ARN" else empty end ),
            ( if ($k | has("key_usage")) and (($k.key_usage | IN(usages[])) | not)
              then "\($at): field 'key_usage' must be one of \(usages | join(", "))" else empty end ),
            ( if ($k | has("description")) and (($k.description | type) != "string")
              then "\($at): field 'description' must be a string" else empty end )
          end ),
      ( [.keys[] | objects | .name] | group_by(.) | map(select(length > 1))[] | "key name '\(.[0])' appears \(length) times; names must be unique" ),
      ( [.keys[] | objects | .alias] | group_by(.) | map(select(length > 1))[] | "alias '\(.[0])' appears \(length) times; aliases must be unique" )
    end )
end
