/**
 * A custom domain for the WebSocket API (`GatewayBackendProps.domainName`): a regional API Gateway
 * domain name with its certificate (given, or created with DNS validation), the API mapping of its
 * root to the backend's stage, and optionally the alias record in a Route 53 hosted zone.
 * Browsers then connect to `wss://{domainName}` (no stage segment: the mapping has no path).
 * Construct ids: DomainName, Certificate (when created), AliasRecord (when created).
 */
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import type { Construct } from 'constructs';
import type { GatewayDomainNameOptions } from './GatewayBackendProps.ts';

export interface CustomDomain {
  readonly domainName: apigwv2.DomainName;
  readonly apiMapping: apigwv2.ApiMapping;
  readonly certificate: acm.ICertificate;
  readonly aliasRecord: route53.ARecord | undefined;
}

export function createCustomDomain(scope: Construct, options: GatewayDomainNameOptions, stage: apigwv2.WebSocketStage): CustomDomain {
  const certificate =
    options.certificate ??
    new acm.Certificate(scope, 'Certificate', {
      domainName: options.domainName,
      validation: acm.CertificateValidation.fromDns(options.hostedZone),
    });
  const domainName = new apigwv2.DomainName(scope, 'DomainName', {
    domainName: options.domainName,
    certificate,
    endpointType: apigwv2.EndpointType.REGIONAL,
    securityPolicy: apigwv2.SecurityPolicy.TLS_1_2,
  });
  const apiMapping = new apigwv2.ApiMapping(scope, 'ApiMapping', { api: stage.api, stage, domainName });
  const aliasRecord =
    options.hostedZone && options.aliasRecord !== false
      ? new route53.ARecord(scope, 'AliasRecord', {
          zone: options.hostedZone,
          recordName: options.domainName,
          target: route53.RecordTarget.fromAlias(
            new route53Targets.ApiGatewayv2DomainProperties(domainName.regionalDomainName, domainName.regionalHostedZoneId),
          ),
        })
      : undefined;
  return { domainName, apiMapping, certificate, aliasRecord };
}
