// Module resolution hooks for hosted functions. Lambda's Node.js runtimes provide the AWS SDK for
// JavaScript v3, so bundles leave `@aws-sdk/*` out (NodejsFunction's default); when a function's own
// directory cannot resolve such an import, it is resolved from the gateway's installation instead.
const RUNTIME_PROVIDED = /^@(aws-sdk|smithy|aws-crypto)\//;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !RUNTIME_PROVIDED.test(specifier)) throw error;
    return nextResolve(specifier, { ...context, parentURL: import.meta.url });
  }
}
