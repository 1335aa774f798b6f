import { describe, expect, it } from 'vitest';
import { type CorsRule, corsConfigurationXml, matchCorsRule, parseCorsConfiguration } from './cors-config.ts';
import { s3ErrorCode } from './testing/error-code.ts';
import { renderXmlDocument } from './xml.ts';

function config(...rules: string[]): string {
  return `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${rules.map((r) => `<CORSRule>${r}</CORSRule>`).join('')}</CORSConfiguration>`;
}

const codeOf = (body: string): string => s3ErrorCode(() => parseCorsConfiguration(body));

describe('parseCorsConfiguration', () => {
  it('reads every field of a rule, and renders it back the same', () => {
    const rules = parseCorsConfiguration(
      config(
        '<ID>app</ID><AllowedOrigin>http://*.example.com</AllowedOrigin><AllowedOrigin>http://localhost:5173</AllowedOrigin>' +
          '<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader>' +
          '<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds>',
        '<AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod>',
      ),
    );
    const expected: CorsRule[] = [
      {
        id: 'app',
        allowedOrigins: ['http://*.example.com', 'http://localhost:5173'],
        allowedMethods: ['GET', 'PUT'],
        allowedHeaders: ['*'],
        exposeHeaders: ['ETag'],
        maxAgeSeconds: 3000,
      },
      { allowedOrigins: ['*'], allowedMethods: ['HEAD'], allowedHeaders: [], exposeHeaders: [] },
    ];
    expect(rules).toEqual(expected);
    expect(parseCorsConfiguration(renderXmlDocument(corsConfigurationXml(rules)))).toEqual(expected);
  });

  it('refuses what S3 refuses', () => {
    expect(codeOf('<CORSConfiguration></CORSConfiguration>')).toBe('MalformedXML');
    expect(codeOf(config('<AllowedMethod>GET</AllowedMethod>'))).toBe('MalformedXML');
    expect(codeOf(config('<AllowedOrigin>*</AllowedOrigin>'))).toBe('MalformedXML');
    expect(codeOf(config('<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>'))).toBe(
      'InvalidRequest',
    );
    expect(
      codeOf(config('<AllowedOrigin>http://*.*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>')),
    ).toBe('InvalidRequest');
    expect(
      codeOf(
        config(
          '<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-*-*</AllowedHeader>',
        ),
      ),
    ).toBe('InvalidRequest');
    expect(
      codeOf(
        config(
          '<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>soon</MaxAgeSeconds>',
        ),
      ),
    ).toBe('MalformedXML');
    const many = Array.from(
      { length: 101 },
      () => '<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>',
    );
    expect(codeOf(config(...many))).toBe('InvalidRequest');
    expect(codeOf('<Tagging/>')).toBe('MalformedXML');
  });
});

describe('matchCorsRule', () => {
  const rules = parseCorsConfiguration(
    config(
      '<AllowedOrigin>http://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>Content-Type</AllowedHeader>',
      '<AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod>',
    ),
  );

  it('takes the first rule matching origin, method and every requested header', () => {
    const m = matchCorsRule(rules, 'http://app.example.com', 'GET', ['x-amz-date', 'content-type']);
    expect(m?.rule).toBe(rules[0]);
    expect(m?.allowOrigin).toBe('http://app.example.com');
    expect(matchCorsRule(rules, 'http://app.example.com', 'GET', ['authorization'])).toBeUndefined();
    expect(matchCorsRule(rules, 'http://app.example.org', 'GET', [])).toBeUndefined();
    expect(matchCorsRule(rules, 'http://app.example.com', 'PUT', [])).toBeUndefined();
  });

  it('answers `*` for a rule allowing every origin with `*`', () => {
    const m = matchCorsRule(rules, 'http://anywhere.test', 'HEAD', []);
    expect(m?.rule).toBe(rules[1]);
    expect(m?.allowOrigin).toBe('*');
    // A rule without AllowedHeader allows no requested header.
    expect(matchCorsRule(rules, 'http://anywhere.test', 'HEAD', ['x-amz-meta-a'])).toBeUndefined();
  });
});
