//! Building the AWS SDK clients from the standard credential chain, the
//! region and the endpoint options: `--endpoint-url` for every service,
//! `--kms-endpoint-url` (KMS, STS) and `--inventory-endpoint-url` (S3, RDS,
//! DynamoDB, Config, CloudTrail, IAM, Lambda) override it per group. Retries are left to
//! the SDK's standard mode; `AWS_MAX_ATTEMPTS` is honoured.

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::cli::Global;

/// The clients a subcommand may use (cheap to build; nothing is called
/// until a request is sent).
#[derive(Clone, Debug)]
pub struct Clients {
    /// The region in force.
    pub region: String,
    /// KMS.
    pub kms: aws_sdk_kms::Client,
    /// STS (caller identity).
    pub sts: aws_sdk_sts::Client,
    /// S3 (path-style when an endpoint is given, as emulators need).
    pub s3: aws_sdk_s3::Client,
    /// RDS.
    pub rds: aws_sdk_rds::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// AWS Config (aggregator advanced queries).
    pub config: aws_sdk_config::Client,
    /// CloudTrail (LookupEvents).
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    /// IAM (config-rule --deploy: the Lambda's role).
    pub iam: aws_sdk_iam::Client,
    /// Lambda (config-rule --deploy: the rule's function).
    pub lambda: aws_sdk_lambda::Client,
}

/// Loads the shared configuration (credentials, region) once.
pub async fn load(global: &Global, default_region: Option<&str>) -> crate::error::Result<Clients> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = global.region.as_deref().or(default_region) {
        loader = loader.region(Region::new(r.to_string()));
    }
    let shared: SdkConfig = loader.load().await;
    let region = shared
        .region()
        .map(|r| r.to_string())
        .ok_or_else(|| {
            crate::error::Error::refused(
                crate::exit::Exit::Usage,
                "no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION (or a profile region)",
            )
        })?;
    let kms_ep = global
        .kms_endpoint_url
        .clone()
        .or(global.endpoint_url.clone());
    let inv_ep = global
        .inventory_endpoint_url
        .clone()
        .or(global.endpoint_url.clone());

    macro_rules! client {
        ($krate:ident, $ep:expr) => {{
            let mut b = $krate::config::Builder::from(&shared);
            if let Some(url) = $ep.as_deref() {
                b = b.endpoint_url(url);
            }
            $krate::Client::from_conf(b.build())
        }};
    }
    let s3 = {
        let mut b = aws_sdk_s3::config::Builder::from(&shared);
        if let Some(url) = inv_ep.as_deref() {
            b = b.endpoint_url(url).force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(b.build())
    };
    Ok(Clients {
        region,
        kms: client!(aws_sdk_kms, kms_ep),
        sts: client!(aws_sdk_sts, kms_ep),
        s3,
        rds: client!(aws_sdk_rds, inv_ep),
        dynamodb: client!(aws_sdk_dynamodb, inv_ep),
        config: client!(aws_sdk_config, inv_ep),
        cloudtrail: client!(aws_sdk_cloudtrail, inv_ep),
        iam: client!(aws_sdk_iam, inv_ep),
        lambda: client!(aws_sdk_lambda, inv_ep),
    })
}

/// A KMS client for `region` with the same credential chain and KMS
/// endpoint as `load` (a multi-Region key's replicas, one per region).
pub async fn kms_in(global: &Global, region: &str) -> aws_sdk_kms::Client {
    let shared: SdkConfig = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .load()
        .await;
    let mut b = aws_sdk_kms::config::Builder::from(&shared);
    if let Some(url) = global
        .kms_endpoint_url
        .as_deref()
        .or(global.endpoint_url.as_deref())
    {
        b = b.endpoint_url(url);
    }
    aws_sdk_kms::Client::from_conf(b.build())
}
