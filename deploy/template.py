"""Write deploy/identity-pool.json: the AWS side of Federation Lab as CloudFormation.

The policies come from webapp/policies.py, the same statements the storage
pages show and the local stand-in enforces, so the three cannot drift (a test
compares this output with the committed template).

    python deploy/template.py > deploy/identity-pool.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from webapp import policies

BUCKET = "BUCKETNAME"
#: CloudFormation spells two of S3's CORS keys its own way.
CFN_CORS_KEYS = {"ExposeHeaders": "ExposedHeaders", "MaxAgeSeconds": "MaxAge"}


def sub(value: Any) -> Any:
    """Turn the policies' literal ARNs into Fn::Sub strings over the template's bucket.

    A string without the bucket stays plain: outside Fn::Sub, CloudFormation leaves
    an IAM policy variable such as ``${cognito-identity.amazonaws.com:sub}`` alone,
    and a Fn::Sub with nothing to substitute is a lint warning (W1020)."""
    if isinstance(value, str) and BUCKET in value:
        escaped = value.replace("${", "${!").replace(BUCKET, "${StorageBucket}")
        # The partition too, so the template also deploys in aws-cn and aws-us-gov.
        escaped = escaped.replace("arn:aws:", "arn:${AWS::Partition}:")
        return {"Fn::Sub": escaped}
    if isinstance(value, list):
        return [sub(v) for v in value]
    if isinstance(value, dict):
        return {k: sub(v) for k, v in value.items()}
    return value


def role(name: str, amr: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Federation Lab {name} identities of the identity pool",
            "AssumeRolePolicyDocument": policies.trust_policy({"Ref": "IdentityPool"}, amr),
            "Policies": [{"PolicyName": "amplify-style-storage",
                          "PolicyDocument": sub(policies.policy(statements))}],
        },
    }


def template() -> dict[str, Any]:
    has = {name: {"Fn::Not": [{"Fn::Equals": [{"Ref": param}, ""]}]}
           for name, param in (("HasGoogle", "GoogleClientId"), ("HasFacebook", "FacebookAppId"),
                               ("HasSecondCognitoClient", "CognitoSecondAppClientId"))}
    # Auth0 needs both its domain and its client id: the IAM OIDC provider
    # cannot list an empty client id (cfn-lint W1030).
    has["HasAuth0"] = {"Fn::And": [{"Fn::Not": [{"Fn::Equals": [{"Ref": param}, ""]}]}
                                   for param in ("Auth0Domain", "Auth0ClientId")]}
    # Any OpenID Connect issuer (a provider of kind "oidc"), the same way.
    has["HasOidc"] = {"Fn::And": [{"Fn::Not": [{"Fn::Equals": [{"Ref": param}, ""]}]}
                                  for param in ("OidcIssuer", "OidcClientId")]}
    # A condition function is no property value (cfn-lint E3012): the boolean
    # comes from a condition through Fn::If.
    has["GuestsAllowed"] = {"Fn::Equals": [{"Ref": "AllowGuests"}, "true"]}
    cognito_provider = {
        "ProviderName": {
            "Fn::Sub": "cognito-idp.${AWS::Region}.amazonaws.com/${CognitoUserPoolId}"},
        "ServerSideTokenCheck": True,
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Federation Lab: a Cognito Identity Pool federating Cognito, Google, "
                       "Facebook, Auth0 and any OpenID Connect sign-ins, its roles (trust "
                       "policies require aud and amr), and an S3 bucket laid out as AWS "
                       "Amplify Storage.",
        "Parameters": {
            "BucketName": {"Type": "String", "Description": "A globally unique bucket name"},
            "AppOrigin": {"Type": "String", "Description": "The site's origin, for S3 CORS "
                          "(e.g. https://fedlab.example.com)"},
            "CognitoUserPoolId": {"Type": "String", "Description": "e.g. us-east-1_AbCdEf123"},
            "CognitoAppClientId": {"Type": "String"},
            "CognitoSecondAppClientId": {"Type": "String", "Default": "",
                                         "Description": "Optional, e.g. a straight-to-Google "
                                                        "app client"},
            "GoogleClientId": {"Type": "String", "Default": "",
                               "Description": "The Google web client id (the id token's aud)"},
            "FacebookAppId": {"Type": "String", "Default": ""},
            "Auth0Domain": {"Type": "String", "Default": "",
                            "Description": "e.g. example.us.auth0.com"},
            "Auth0ClientId": {"Type": "String", "Default": ""},
            "OidcIssuer": {"Type": "String", "Default": "",
                           "Description": "Optional: any OpenID Connect issuer, exactly as "
                                          "its tokens' iss (https://login.example.com/corp)"},
            "OidcClientId": {"Type": "String", "Default": "",
                             "Description": "That issuer's client id for this site"},
            "AllowGuests": {"Type": "String", "AllowedValues": ["true", "false"],
                            "Default": "true"},
        },
        "Conditions": has,
        "Resources": {
            "StorageBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": {"Ref": "BucketName"},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True, "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
                    "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                    "CorsConfiguration": {"CorsRules": [
                        {CFN_CORS_KEYS.get(k, k): v for k, v in rule.items()}
                        for rule in policies.bucket_cors([{"Ref": "AppOrigin"}])["CORSRules"]]},
                },
            },
            "Auth0OidcProvider": {
                "Type": "AWS::IAM::OIDCProvider",
                "Condition": "HasAuth0",
                "Properties": {"Url": {"Fn::Sub": "https://${Auth0Domain}/"},
                               "ClientIdList": [{"Ref": "Auth0ClientId"}]},
            },
            "OidcProvider": {
                "Type": "AWS::IAM::OIDCProvider",
                "Condition": "HasOidc",
                "Properties": {"Url": {"Ref": "OidcIssuer"},
                               "ClientIdList": [{"Ref": "OidcClientId"}]},
            },
            "IdentityPool": {
                "Type": "AWS::Cognito::IdentityPool",
                "Properties": {
                    "IdentityPoolName": "federation_lab",
                    "AllowUnauthenticatedIdentities": {"Fn::If": ["GuestsAllowed", True,
                                                                  False]},
                    "CognitoIdentityProviders": [
                        {**cognito_provider, "ClientId": {"Ref": "CognitoAppClientId"}},
                        {"Fn::If": ["HasSecondCognitoClient",
                                    {**cognito_provider,
                                     "ClientId": {"Ref": "CognitoSecondAppClientId"}},
                                    {"Ref": "AWS::NoValue"}]},
                    ],
                    "SupportedLoginProviders": {
                        "accounts.google.com": {"Fn::If": ["HasGoogle", {"Ref": "GoogleClientId"},
                                                           {"Ref": "AWS::NoValue"}]},
                        "graph.facebook.com": {"Fn::If": ["HasFacebook", {"Ref": "FacebookAppId"},
                                                          {"Ref": "AWS::NoValue"}]},
                    },
                    "OpenIdConnectProviderARNs": [
                        {"Fn::If": [condition, {"Ref": resource}, {"Ref": "AWS::NoValue"}]}
                        for condition, resource in (("HasAuth0", "Auth0OidcProvider"),
                                                    ("HasOidc", "OidcProvider"))],
                },
            },
            "AuthenticatedRole": role("signed-in", "authenticated",
                                      policies.authenticated_statements(BUCKET)),
            "GuestRole": role("guest", "unauthenticated", policies.guest_statements(BUCKET)),
            "RoleAttachment": {
                "Type": "AWS::Cognito::IdentityPoolRoleAttachment",
                "Properties": {
                    "IdentityPoolId": {"Ref": "IdentityPool"},
                    "Roles": {"authenticated": {"Fn::GetAtt": ["AuthenticatedRole", "Arn"]},
                              "unauthenticated": {"Fn::GetAtt": ["GuestRole", "Arn"]}},
                },
            },
        },
        "Outputs": {
            "IdentityPoolId": {"Value": {"Ref": "IdentityPool"},
                               "Description": "aws.identity_pool_id"},
            "Bucket": {"Value": {"Ref": "StorageBucket"}, "Description": "aws.bucket"},
            "AuthenticatedRoleArn": {"Value": {"Fn::GetAtt": ["AuthenticatedRole", "Arn"]}},
            "GuestRoleArn": {"Value": {"Fn::GetAtt": ["GuestRole", "Arn"]}},
        },
    }


def render() -> str:
    return json.dumps(template(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
